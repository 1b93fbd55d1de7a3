"""hf-argen push: upload a saved model folder (e.g. model_cards/pixelcnn-digits) to the Hub: create the repo, upload.

    hf-argen push --model model_cards/pixelcnn-digits --hub_model_id you/pixelcnn-digits --dry_run
    hf-argen push --model model_cards/pixelcnn-digits --hub_model_id you/pixelcnn-digits

The card's usage snippet is rewritten to load the Hub id before the upload. The token comes from --hub_token,
$HF_TOKEN or `hf auth login`; $HF_ENDPOINT picks another Hub endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..hub import files_to_upload, push_to_hub, retarget_card
from .arguments import ModelArguments, parse_command


@dataclass
class PushArguments:
    """Where the folder goes."""

    hub_model_id: str | None = field(default=None, metadata={"help": "the Hub repo, user/name (required)"})
    hub_token: str | None = field(default=None, metadata={"help": "token (default: $HF_TOKEN or the saved login)"})
    private: bool = field(default=False, metadata={"help": "create the repo as private"})
    commit_message: str = field(default="Upload model", metadata={"help": "the Hub commit message"})
    dry_run: bool = field(default=False, metadata={"help": "list the files that would be uploaded, upload nothing"})


def main(argv: list[str] | None = None) -> int:
    model_args, args = parse_command("push", (ModelArguments, PushArguments), argv, __doc__)
    model = model_args.required()
    if not args.hub_model_id:
        raise ValueError("--hub_model_id is required (the Hub repo, user/name).")
    if args.dry_run:
        files = files_to_upload(model)
        for path in files:
            print(path)
        print(f"dry run: {len(files)} files would be uploaded to {args.hub_model_id}")
        return 0
    if retarget_card(model, args.hub_model_id):
        print(f"the card {model}/README.md now loads {args.hub_model_id}")
    url = push_to_hub(model, args.hub_model_id, token=args.hub_token, private=args.private,
                      commit_message=args.commit_message)  # fmt: skip
    print(url)
    return 0


__all__ = ["PushArguments", "main"]
