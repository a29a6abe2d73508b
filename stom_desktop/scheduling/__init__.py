"""APScheduler factory, job functions and exchange calendars."""
