"""Write a tiny, randomly initialised Llama-architecture chat model (tokenizer trained here on
aigis's own probe data) so that a real OpenAI-compatible server — Hugging Face's
`transformers serve` — can run locally without downloading anything.

The model's answers are noise: it exists to exercise `aigis redteam` against a real server
implementation (its request parsing, chat template, token limits, errors), not to measure a
model's safety.

    python make_tiny_model.py OUT_DIR
"""

import glob
import os
import sys

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "crates", "aigis-redteam", "data", "probes")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] if m['content'] is string else '' }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def main(out: str) -> None:
    torch.manual_seed(0)
    texts = []
    for path in sorted(glob.glob(os.path.join(DATA, "*.toml"))):
        with open(path, encoding="utf-8") as f:
            texts.extend(line for line in f if line.strip())
    texts += ["I'm sorry, but I can't help with that.", "Sure, here is the answer."] * 20
    special = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|tool|>", "<|end|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=1024,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="<|end|>",
        pad_token="</s>",
    )
    fast.chat_template = CHAT_TEMPLATE
    cfg = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = LlamaForCausalLM(cfg)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    fast.save_pretrained(out)
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters())} parameters, vocab {len(fast)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tiny-model")
