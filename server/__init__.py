"""The 送教通 sync server and coordinator console (FastAPI + SQLModel)."""
