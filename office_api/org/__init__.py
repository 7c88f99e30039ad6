"""Organization tree, users, positions and administrator roles."""
