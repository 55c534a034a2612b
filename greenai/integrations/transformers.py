"""Hugging Face Trainer callback: energy per step and epoch, per sample or token, and a disclosure.

>>> cb = GreenAICallback(unit="token")
>>> trainer = Trainer(..., callbacks=[cb])
>>> cb.install(trainer)  # optional: puts it first, so every reporter sees its figures

At each log step the figures ``greenai_energy_j`` (since training began) and
``greenai_j_per_<unit>`` join the logs (and ``state.log_history``); the disclosure is
written to ``output`` when training ends.

Units: HF callbacks do not see batches, so samples are counted as
``per_device_train_batch_size x gradient_accumulation_steps`` per optimizer step of this
process; tokens from ``state.num_input_tokens_seen`` (set
``include_num_input_tokens_seen=True``), which is job-wide and so divided by world size.
"""

from __future__ import annotations

import os
from typing import Any

try:
    from transformers import TrainerCallback
except ImportError as exc:
    raise ImportError(
        "greenai.integrations.transformers needs transformers: pip install 'greenai[transformers]'"
    ) from exc

from greenai.integrations.torch import torch_meter
from greenai.measurement import Measurement
from greenai.meter import Meter


class GreenAICallback(TrainerCallback):
    """Meters a Trainer's training; ``result`` holds the Measurement once training ends."""

    def __init__(
        self,
        task: str | None = "training",
        unit: str = "sample",
        *,
        output: str | os.PathLike[str] | None = "greenai-train.json",
        interval_s: float = 0.1,
        **meter_kwargs: Any,
    ):
        self.task = task
        self.unit = unit
        self.output = output
        self.meter_kwargs = {"interval_s": interval_s, "handle_signals": False, **meter_kwargs}
        self.meter: Meter | None = None
        self.result: Measurement | None = None
        self._tokens_seen = 0
        self._epoch_start_j = 0.0
        self._epoch_units = 0.0
        self._train_phase: Any = None

    def install(self, trainer: Any) -> GreenAICallback:
        """Put this callback first in the trainer's list (so reporters log its figures)."""
        callbacks = trainer.callback_handler.callbacks
        if self in callbacks:
            callbacks.remove(self)
        callbacks.insert(0, self)
        return self

    # ------------------------------------------------------------ training
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        from greenai.meter import warn_unfit

        # fit/train is training: a class that rates inference cannot grade it (the unit is
        # checked by the Meter itself)
        warn_unfit(self.task, None, self.meter_kwargs.get("standard"), phase="training")
        self.meter = torch_meter(self.task, self.unit, output=self.output, **self.meter_kwargs)
        self.meter.start()
        self._tokens_seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        self._train_phase = self.meter.phase("train")
        self._train_phase.__enter__()

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.meter is not None:
            self._epoch_start_j = self.meter.energy_j
            self._epoch_units = 0.0

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.meter is None:
            return
        if self.unit == "token":
            seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
            n = (seen - self._tokens_seen) / max(int(args.world_size), 1)
            self._tokens_seen = seen
        else:
            n = args.per_device_train_batch_size * args.gradient_accumulation_steps
        self.meter.count(n)
        self._epoch_units += n

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if self.meter is None or logs is None:
            return
        energy_j = self.meter.energy_j
        figures: dict[str, float] = {"greenai_energy_j": energy_j}
        if self.meter.units_done > 0:
            figures[f"greenai_j_per_{self.unit}"] = energy_j / self.meter.units_done
        logs.update(figures)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(figures)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.meter is not None and state.log_history is not None:
            epoch_j = self.meter.energy_j - self._epoch_start_j
            entry: dict[str, Any] = {"greenai_epoch_energy_j": epoch_j, "step": state.global_step}
            if self._epoch_units > 0:
                entry[f"greenai_epoch_j_per_{self.unit}"] = epoch_j / self._epoch_units
            state.log_history.append({"epoch": state.epoch, **entry})

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.meter is None:
            return
        if self._train_phase is not None:
            self._train_phase.__exit__(None, None, None)
            self._train_phase = None
        self.result = self.meter.stop("ok")
        self.meter = None
