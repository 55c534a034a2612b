"""Hugging Face Trainer with one callback: energy per token next to the loss.

A tiny GPT-2 with random weights from a config: nothing is downloaded.

    pip install 'greenai[transformers]'
    python examples/hf_trainer.py            # writes hf-train.json
"""

import torch
import transformers

from greenai.integrations.transformers import GreenAICallback
from greenai.report.text import summary

SEQ = 32


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n):
        self.ids = torch.randint(0, 256, (n, SEQ), generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


config = transformers.GPT2Config(vocab_size=256, n_positions=SEQ, n_embd=64, n_layer=2, n_head=2)
args = transformers.TrainingArguments(
    output_dir="hf-out",
    per_device_train_batch_size=8,
    num_train_epochs=2,
    logging_steps=4,
    report_to=[],
    save_strategy="no",
    use_cpu=True,
    disable_tqdm=True,
    include_num_input_tokens_seen=True,  # tokens per step, for J per token
)
callback = GreenAICallback(task="text-generation-training", unit="token", output="hf-train.json")
trainer = transformers.Trainer(
    model=transformers.GPT2LMHeadModel(config),
    args=args,
    train_dataset=RandomTokens(128),
    callbacks=[callback],
)
callback.install(trainer)  # first in line, so every reporter logs its figures
trainer.train()
print(summary(callback.result))
