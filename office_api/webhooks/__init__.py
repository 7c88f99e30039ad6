"""Signed webhooks: departmental systems receive their subtree's notifications by HTTP POST."""
