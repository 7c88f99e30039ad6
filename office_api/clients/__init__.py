"""Integration clients: departmental systems calling the API with OAuth 2.0 client credentials."""
