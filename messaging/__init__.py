"""Notifications, the transactional outbox, the broker and websocket delivery.

``messaging`` imports no domain package: domains call :func:`messaging.outbox.notify`.
"""
