#!/usr/bin/env bash
# Put the book's JavaScript into DEST (default _vendor) so the built pages render
# their widgets and their mathematics without reaching a CDN: require.js and the
# ipywidgets embedder (html-manager 1.0.x speaks the widget protocol of ipywidgets 8),
# and MathJax 3. Versions are pinned; everything comes from the npm registry.
set -euo pipefail
dest=${1:-_vendor}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @jupyter-widgets/html-manager@1.0.6 requirejs@2.3.4 mathjax@3.2.2 >/dev/null)
tar -xzf "$work"/jupyter-widgets-html-manager-1.0.6.tgz -C "$work"
mkdir -p "$dest/ipywidgets"
# embed-amd.js is self-contained; the fonts are referenced by its CSS. Source maps stay out.
find "$work/package/dist" -maxdepth 1 -type f ! -name '*.map' -exec cp {} "$dest/ipywidgets/" \;
tar -xzf "$work"/requirejs-2.3.4.tgz -C "$work" package/require.js --strip-components=1
cp "$work/require.js" "$dest/require.js"
mkdir -p "$work/mathjax"
tar -xzf "$work"/mathjax-3.2.2.tgz -C "$work/mathjax" package/es5 --strip-components=2
rm -rf "$dest/mathjax"
cp -r "$work/mathjax" "$dest/mathjax"
echo "widget and MathJax JavaScript in $dest/"
