"""Allow ``python -m stom_desktop`` as an alias for the ``stom`` command."""

from stom_desktop.cli.app import main

main()
