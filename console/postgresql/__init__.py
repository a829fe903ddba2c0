"""Django's PostgreSQL backend, with pooled connections that recover from a server restart by themselves."""
