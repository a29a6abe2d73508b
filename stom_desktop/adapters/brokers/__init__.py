"""Broker adapters: the paper broker (simulated venue); exchange brokers come with issue 7."""

from stom_desktop.adapters.brokers.paper import PaperBroker

__all__ = ["PaperBroker"]
