#!/usr/bin/env python
"""Turn a training checkpoint (output_dir/checkpoint-<step>) into a saved model folder, optionally with the
EMA weights the checkpoint holds; several checkpoints are averaged (checkpoint averaging).

    python scripts/export_checkpoint.py --checkpoint out/checkpoint-3000 --ema --output exported
    python scripts/export_checkpoint.py --checkpoint out/checkpoint-2500 out/checkpoint-3000 --output averaged
"""

from pathlib import Path

from hf_argen.cli import run_cli, script_parser


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint folder(s); several are averaged")
    parser.add_argument("--config", default=None, help="config.json (default: the checkpoint's own)")
    parser.add_argument("--ema", action="store_true", help="use the EMA weights stored in the checkpoint")
    parser.add_argument("--output", required=True, help="the model folder to write")
    args = parser.parse_args(argv)

    from hf_argen import PixelCNNConfig, PixelCNNForImageGeneration, PixelCNNImageProcessor
    from hf_argen.training import load_checkpoint_weights

    config_path = Path(args.config) if args.config else Path(args.checkpoint[-1]) / "config.json"
    config = PixelCNNConfig.from_json_file(str(config_path))
    weights = [load_checkpoint_weights(c, ema=args.ema) for c in args.checkpoint]
    averaged = {k: sum(w[k].double() for w in weights) / len(weights) for k in weights[0]}
    model = PixelCNNForImageGeneration(config)
    state = model.state_dict()
    state.update({k: v.to(state[k].dtype) for k, v in averaged.items() if k in state})
    model.load_state_dict(state)
    model.save_pretrained(args.output)
    PixelCNNImageProcessor.from_model_config(config).save_pretrained(args.output)
    print(f"saved {args.output} from {len(weights)} checkpoint(s){' (EMA weights)' if args.ema else ''}")


if __name__ == "__main__":
    run_cli(main)
