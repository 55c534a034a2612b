"""Framework integrations: PyTorch helpers, Lightning and Hugging Face Trainer callbacks.

Each module imports its framework; install the matching extra (``greenai[torch]``,
``greenai[lightning]``, ``greenai[transformers]``, ``greenai[mlflow]``).
"""
