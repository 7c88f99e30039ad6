"""Meeting scheduling: rooms, invitations, replies, check-in, minutes (to come)."""
