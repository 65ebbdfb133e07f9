"""Notifications: events recorded once, delivered off the hot path (see docs/notifications.md)."""
