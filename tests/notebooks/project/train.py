# A v1 training script: only its import line changes when it is ported.
import argparse
import os

from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--learning-rate", type=float, default=0.1)
args = parser.parse_args()

run = Run.get_context()
run.log("learning_rate", args.learning_rate)
for epoch in range(args.epochs):
    loss = 1.0 / (epoch + 1)
    run.log("loss", loss)
    print(f"epoch {epoch} loss {loss:.3f}", flush=True)
run.log_list("accuracies", [0.7, 0.8, 0.9][: args.epochs])
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as handle:
    handle.write(f"trained {args.epochs} epochs\n")
