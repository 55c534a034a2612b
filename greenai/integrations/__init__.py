"""Framework integrations: PyTorch helpers, Lightning and Hugging Face Trainer callbacks, an
ASGI middleware (Starlette, FastAPI) for energy per served request.

Each module imports its framework; install the matching extra (``greenai[torch]``,
``greenai[lightning]``, ``greenai[transformers]``, ``greenai[mlflow]``, ``greenai[asgi]``).
"""
