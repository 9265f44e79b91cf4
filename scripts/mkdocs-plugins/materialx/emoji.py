"""`materialx.emoji`, the emoji index and generator that sites written for mkdocs-material name in mkdocs.yml
(`emoji_index: !!python/name:materialx.emoji.twemoji`, one of the few Python tags Backstage lets through):
Twemoji, plus the icons the Material theme ships (`:material-account:`, `:fontawesome-brands-github:`,
`:octicons-git-branch-16:`) and a site's own `custom_icons` directories, drawn inline as SVG."""

import os
from xml.etree import ElementTree

from mkdocs.utils import get_theme_dir, get_theme_names
from pymdownx import emoji

# Icon files by shortname, per set of icon directories: an index is made once per page's Markdown.
_icon_files = {}


def _icon_directories(options):
    theme = [os.path.join(get_theme_dir("material"), ".icons")] if "material" in get_theme_names() else []
    return tuple(theme + list(options.get("custom_icons", [])))


def _icons(directories):
    if directories not in _icon_files:
        files = {}
        for root in directories:
            for folder, _, names in os.walk(root):
                prefix = os.path.relpath(folder, root).replace(os.sep, "-")
                for name in names:
                    if name.endswith(".svg"):
                        stem = name[: -len(".svg")]
                        files[f":{stem if prefix == '.' else f'{prefix}-{stem}'}:"] = os.path.join(folder, name)
        _icon_files[directories] = files
    return _icon_files[directories]


def twemoji(options, md):
    index = emoji.twemoji(options, md)
    for shortname in _icons(_icon_directories(options)):
        index["emoji"][shortname] = {"name": shortname.strip(":"), "category": "icons"}
    return index


def to_svg(index, shortname, alias, uc, alt, title, category, options, md):
    path = _icons(_icon_directories(options)).get(shortname)
    if path is None:
        return emoji.to_svg(index, shortname, alias, uc, alt, title, category, options, md)
    icon = ElementTree.Element("span", {"class": options.get("classes", index)})
    with open(path, encoding="utf-8") as svg:
        icon.text = md.htmlStash.store(svg.read())
    return icon
