"""A tiny randomly initialised chat model and a tokenizer trained on the export's own text.

Nothing is downloaded: the tokenizer is a byte-level BPE learnt in memory from the
lines it will encode, and the model is a 2-layer Llama built from a config. Neither
is meant to be good; they are meant to make a real trainer run over the export so
that what it trains on can be seen.

The chat template is ours. It renders messages, tools and tool calls ChatML-style
and puts `{% generation %}` markers around every assistant turn that is a training
target, so TRL's `assistant_only_loss=True` gives loss to those turns and nothing
else. TRL itself ignores the OpenAI `weight` key, so the template honours it: an
assistant turn with `weight: 0` is rendered as context, outside the markers.
"""

from collections.abc import Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

END = "<|im_end|>"
PAD = "<|endoftext|>"
SPECIAL_TOKENS = [PAD, "<|im_start|>", END]
VOCAB_SIZE = 2048

CHAT_TEMPLATE = r"""
{%- macro assistant_output(message) -%}
{{- message.content or '' -}}
{%- for call in message.tool_calls or [] -%}
{{- '\n' if message.content or not loop.first else '' -}}
{{- '<tool_call>\n{"name": ' + (call.function.name | tojson) + ', "arguments": ' -}}
{%- if call.function.arguments is string -%}{{- call.function.arguments -}}
{%- else -%}{{- call.function.arguments | tojson -}}{%- endif -%}
{{- '}\n</tool_call>' -}}
{%- endfor -%}
{{- '<|im_end|>' -}}
{%- endmacro -%}
{%- set system = messages[0].content if messages and messages[0].role == 'system' else none -%}
{%- if tools or system is not none -%}
{{- '<|im_start|>system\n' + (system or '') -}}
{%- if tools -%}
{{- ('\n\n' if system else '') + '# Tools' -}}
{%- for tool in tools -%}{{- '\n' + (tool | tojson) -}}{%- endfor -%}
{%- endif -%}
{{- '<|im_end|>\n' -}}
{%- endif -%}
{%- for message in messages -%}
{%- if message.role == 'assistant' -%}
{{- '<|im_start|>assistant\n' -}}
{%- if message.weight == 0 -%}{{- assistant_output(message) -}}
{%- else -%}{%- generation -%}{{- assistant_output(message) -}}{%- endgeneration -%}
{%- endif -%}
{{- '\n' -}}
{%- elif not (loop.first and message.role == 'system') -%}
{{- '<|im_start|>' + message.role + '\n' + (message.content or '') + '<|im_end|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
"""


def train_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """A fast tokenizer learnt from `texts`, with the chat template and its special tokens."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=END, pad_token=PAD)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(tokenizer: PreTrainedTokenizerFast, seed: int) -> LlamaForCausalLM:
    """A 2-layer Llama with hidden size 64, randomly initialised from `seed`."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(config)
