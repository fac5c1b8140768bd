"""Where a few-shot prompt's tokens go: system text, glossary, and each part of the user message.

Builds the default synthetic cohort and model (as ``bench_llm.py`` does), records the first
request of each flagged person without running a model (a recording backend answers ``{}``), and
counts tokens with the packaged SmolLM2 tokenizer (llama.cpp, vocabulary only). The system
message is the same for every person, so llama.cpp evaluates it once per run; the user message
is evaluated anew for each person. Prints the mean tokens per part and the examples shown.

    python benchmarks/bench_prompt.py                 # 20 people, 3 shots
    python benchmarks/bench_prompt.py --limit 50 --shots 2
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from bench_backends import generator_requests  # the same recorded requests

from sensecf.generators.llm.prompts import glossary
from sensecf.llm.models import packaged_model_path

# A user-message line belongs to the part its opening words name.
PARTS = {
    "The model predicts": "prediction and goal",
    "Now:": "current values",
    "Fixed:": "fixed features",
    "Helps most": "helpful changes",
    "Values you may give": "values offered",
    "Changes that worked": "examples",
    "Person ": "examples",
    "Other people": "examples",
    "An earlier answer": "feedback",
    "Task:": "task",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--shots", type=int, default=3, help="examples per prompt")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import llama_cpp

    tokenizer = llama_cpp.Llama(str(packaged_model_path()), vocab_only=True, verbose=False)

    def tokens(text: str) -> int:
        return len(tokenizer.tokenize(text.encode(), add_bos=False, special=True))

    requests, spec = generator_requests(
        args.limit, args.seed, participants=args.participants, days=args.days, shots=args.shots
    )

    parts: dict[str, list[int]] = defaultdict(list)
    asked, changes = [], []
    for request in requests:
        system, user = (m["content"] for m in request.messages)
        parts["system message (shared)"].append(tokens(system))
        counted: dict[str, int] = defaultdict(int)
        for line in user.splitlines():
            part = next((p for opening, p in PARTS.items() if line.startswith(opening)), "other")
            counted[part] += tokens(line + "\n")
            if line.startswith("Person "):
                changes.append(line.count(":") - 1)
        for part, n in counted.items():
            parts[part].append(n)
        parts["user message (per person)"].append(tokens(user))
        asked.append(len(request.schema["properties"]) if request.schema else 0)
    print(f"{len(requests)} first requests; glossary {tokens(glossary(spec))} tokens")
    width = max(len(p) for p in parts)
    for part, counts in parts.items():
        print(f"{part:<{width}}  {np.mean(counts):7.1f} tokens (max {max(counts)})")
    print(f"features asked per request: {np.mean(asked):.1f}")
    if changes:
        print(f"changes per example shown: {np.mean(changes):.1f}")
    tokenizer.close()


if __name__ == "__main__":
    main()
