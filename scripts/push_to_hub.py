#!/usr/bin/env python
"""Upload a saved model folder (e.g. model_cards/pixelcnn-digits) to the Hub: create the repo, upload.

    python scripts/push_to_hub.py --model model_cards/pixelcnn-digits --hub_model_id you/pixelcnn-digits --dry_run
    python scripts/push_to_hub.py --model model_cards/pixelcnn-digits --hub_model_id you/pixelcnn-digits

The token comes from --hub_token, $HF_TOKEN or `hf auth login`; $HF_ENDPOINT picks another Hub endpoint.
"""

from hf_argen.cli import run_cli, script_parser


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--model", required=True, help="saved model folder (config.json, model.safetensors, ...)")
    parser.add_argument("--hub_model_id", required=True, help="the Hub repo, user/name")
    parser.add_argument("--hub_token", default=None, help="token (default: $HF_TOKEN or the saved login)")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--commit_message", default="Upload model", help="the Hub commit message")
    parser.add_argument("--dry_run", action="store_true", help="list the files that would be uploaded, upload nothing")
    args = parser.parse_args(argv)
    from hf_argen.hub import files_to_upload, push_to_hub

    if args.dry_run:
        files = files_to_upload(args.model)
        for path in files:
            print(path)
        print(f"dry run: {len(files)} files would be uploaded to {args.hub_model_id}")
        return 0
    url = push_to_hub(args.model, args.hub_model_id, token=args.hub_token, private=args.private,
                      commit_message=args.commit_message)  # fmt: skip
    print(url)


if __name__ == "__main__":
    run_cli(main)
