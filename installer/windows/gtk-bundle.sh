#!/usr/bin/env bash
# Bundles podstream-gui.exe the way MSYS2's GTK apps ship: the exe and every DLL it loads
# (its import tables walked with objdump, found in the GTK prefix or in the compiler's
# runtime; Windows' own DLLs stay out), stripped, under bin/; GLib's compiled schemas
# (GTK's settings) under share/glib-2.0/schemas; and only the icons the app names (grepped
# from gui/) from the Adwaita theme as pre-rendered .symbolic.png files (no SVG loader
# is shipped), under share/icons. gdk-pixbuf's loaders are built into its DLL
# (installer/windows/gtk.sh): no loaders.cache. GLib finds share/ beside bin/.
#
# Usage: installer/windows/gtk-bundle.sh PODSTREAM_GUI_EXE GTK_PREFIX OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exe=${1:?usage: gtk-bundle.sh EXE GTK_PREFIX OUT_DIR}
P=${2:?}
out=${3:?}
HOST=x86_64-w64-mingw32
theme=${PS_ICON_THEME:-/usr/share/icons/Adwaita}

rm -rf "$out"
mkdir -p "$out/bin" "$out/share/glib-2.0/schemas" "$out/share/icons"
cp "$exe" "$out/bin/"

find_dll() {  # the file of DLL $1 in the prefix or the toolchain's runtime, else nothing
    local f
    for f in "$P/bin/$1" "/usr/$HOST/lib/$1" "$($HOST-gcc -print-file-name="$1")"; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

queue=("$(basename "$exe")")
while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    for dll in $($HOST-objdump -p "$out/bin/$f" | awk '/DLL Name:/ {print $3}'); do
        [ -e "$out/bin/$dll" ] && continue
        path=$(find_dll "$dll") || continue  # Windows' own (KERNEL32.dll, ...)
        cp "$path" "$out/bin/"
        queue+=("$dll")
    done
done
$HOST-strip --strip-unneeded "$out/bin/"*.exe "$out/bin/"*.dll

glib-compile-schemas --targetdir="$out/share/glib-2.0/schemas" "$P/share/glib-2.0/schemas"

# The icons the app's templates and code name, at the sizes GTK draws them.
icons=$(grep -rhoE 'icon-name">[a-z-]+|"[a-z-]+-symbolic"' "$root/gui" |
    sed -E 's/.*">//; s/"//g' | sort -u)
t=$out/share/icons/$(basename "$theme")
mkdir -p "$t"
cp "$theme/index.theme" "$t/"
for name in $icons; do
    for size in 16x16 24x24 32x32 48x48; do
        for f in "$theme/$size"/*/"$name.symbolic.png"; do
            [ -f "$f" ] || continue
            mkdir -p "$t/$size/$(basename "$(dirname "$f")")"
            cp "$f" "$t/$size/$(basename "$(dirname "$f")")/"
        done
    done
done
[ -f /usr/share/icons/hicolor/index.theme ] && mkdir -p "$out/share/icons/hicolor" &&
    cp /usr/share/icons/hicolor/index.theme "$out/share/icons/hicolor/"

echo "gtk-bundle: $out: $(find "$out/bin" -name '*.dll' | wc -l) DLLs," \
    "$(du -sh "$out" | cut -f1) ($(du -sb "$out" | cut -f1) bytes)"
