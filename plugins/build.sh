#!/usr/bin/env bash
# Builds the rule plugins for wasm32-wasip2 and puts the example plugin into its pack:
#   plugins/target/wasm32-wasip2/release/{romashka,misbehave,other_world}.wasm
#   rules/romashka-wasm/romashka.wasm
# Installs the wasm32-wasip2 target first if rustup lacks it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build --release --quiet --target wasm32-wasip2 --manifest-path "$root/plugins/Cargo.toml" --target-dir "$root/plugins/target" --workspace
cp "$root/plugins/target/wasm32-wasip2/release/romashka.wasm" "$root/rules/romashka-wasm/romashka.wasm"
echo "built: $root/rules/romashka-wasm/romashka.wasm"
