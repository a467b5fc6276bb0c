"""Persistence and domain services: keyword-only functions over a Session, unaware of HTTP."""
