#!/usr/bin/env bash
# Builds the rule plugins for wasm32-wasip2 and puts the example plugin into its pack:
#   plugins/target/wasm32-wasip2/release/*.wasm   every plugin and test fixture
#   rules/romashka-wasm/romashka.wasm             the example, world bonusrun:rules@0.2.3
# The fixtures include the frozen 0.1.0 SDK and its builds (romashka_v01.wasm,
# misbehave_v01.wasm) and a plugin of the frozen 0.2.0 WIT (world_v020.wasm), which the tests
# run to show that older plugins keep working.
# Installs the wasm32-wasip2 target first if rustup lacks it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "plugins/build.sh: installing the wasm32-wasip2 target (rustup target add wasm32-wasip2)" >&2
    rustup target add wasm32-wasip2
fi
echo "plugins/build.sh: building the plugins (the first build fetches the plugin crates)" >&2
cargo build --release --quiet --target wasm32-wasip2 --manifest-path "$root/plugins/Cargo.toml" --target-dir "$root/plugins/target" --workspace
cp "$root/plugins/target/wasm32-wasip2/release/romashka.wasm" "$root/rules/romashka-wasm/romashka.wasm"
echo "built: $root/rules/romashka-wasm/romashka.wasm"
