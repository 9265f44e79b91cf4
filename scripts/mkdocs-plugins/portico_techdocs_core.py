"""The `techdocs-core` MkDocs plugin's part that TechDocs sites rely on, for a machine without PyPI.

Sites made for Backstage name `techdocs-core` in their mkdocs.yml, and MkDocs refuses to build a site whose
plugin is not installed; the real plugin comes only from PyPI. This one gives such sites the Material theme
and the Markdown extensions the real one turns on, those installed here (Debian's mkdocs-material brings
pymdown-extensions), the search index TechDocs search reads, and the metadata file the TechDocs reader's
header shows. Where the real plugin is installed, MkDocs takes it: it comes later on the path.
"""

import importlib.util
import os
import re

from markdown.blockprocessors import ListIndentProcessor, OListProcessor, UListProcessor
from markdown.extensions import Extension
from mkdocs.contrib.search import SearchPlugin
from mkdocs.plugins import BasePlugin
from mkdocs.theme import Theme
from mkdocs.utils import get_theme_dir, get_theme_names


def emoji_settings():
    # As the real plugin: Twemoji and the Material theme's icons (`:material-github:`) drawn inline, where
    # mkdocs-material-extensions is installed. A site would name them with Python tags, which Backstage
    # refuses but for the index's.
    try:
        from materialx.emoji import to_svg, twemoji
    except ImportError:
        from pymdownx.emoji import to_svg, twemoji
    return {"emoji_index": twemoji, "emoji_generator": to_svg}


def superfences_settings():
    # Mermaid diagrams kept as their source in `<pre class="mermaid">`, which Portico's TechDocs reader
    # draws: Pygments knows no mermaid, and would leave them as code of no language.
    from pymdownx.superfences import fence_code_format

    return {"custom_fences": [{"name": "mermaid", "class": "mermaid", "format": fence_code_format}]}


def material_icons():
    """The Material theme's icons, which Debian's mkdocs-material-extensions does not find by itself."""
    return [os.path.join(get_theme_dir("material"), ".icons")] if "material" in get_theme_names() else []


# Extension names and their settings (or what makes them).
EXTENSIONS = {
    "abbr": {},
    "admonition": {},
    "attr_list": {},
    "def_list": {},
    "footnotes": {},
    "md_in_html": {},
    "tables": {},
    "toc": {"permalink": True},
    "pymdownx.betterem": {"smart_enable": "all"},
    "pymdownx.caret": {},
    "pymdownx.critic": {},
    "pymdownx.details": {},
    "pymdownx.emoji": emoji_settings,
    "pymdownx.highlight": {},
    "pymdownx.inlinehilite": {},
    "pymdownx.magiclink": {},
    "pymdownx.mark": {},
    "pymdownx.smartsymbols": {},
    "pymdownx.superfences": superfences_settings,
    "pymdownx.tabbed": {"alternate_style": True},
    "pymdownx.tasklist": {"custom_checkbox": True},
    "pymdownx.tilde": {},
}


class TwoSpaceNestedLists(Extension):
    """Lists nested by two spaces, as the real plugin's mdx_truly_sane_lists reads them (Debian lacks it):
    there, as here, an item indented by four spaces is text of the item above, not a nested list."""

    def extendMarkdown(self, md):
        usual = md.tab_length
        md.tab_length = 2
        try:
            for name, processor, priority in (
                ("indent", ListIndentProcessor, 90),
                ("olist", OListProcessor, 40),
                ("ulist", UListProcessor, 30),
            ):
                md.parser.blockprocessors.register(processor(md.parser), name, priority)
        finally:
            md.tab_length = usual


# GitHub's alerts (`> [!NOTE]` at the start of a line, and the lines quoted after it) as admonitions, as
# the real plugin renders them.
GITHUB_ALERT = re.compile(r"^> ?\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\] *$", re.IGNORECASE)
QUOTED = re.compile(r"^> ?(.*)$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
ADMONITIONS = {
    "NOTE": "note",
    "TIP": "tip",
    "IMPORTANT": 'warning "Important"',
    "WARNING": "warning",
    "CAUTION": 'danger "Caution"',
}


def github_alerts_as_admonitions(markdown):
    lines = markdown.split("\n")
    out = []
    fence = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        marker = FENCE.match(line)
        if marker and fence is None:
            fence = marker.group(1)
        # A fence closes only with its own character, at least as many, and nothing after them.
        elif (
            marker
            and marker.group(1)[0] == fence[0]
            and len(marker.group(1)) >= len(fence)
            and not marker.group(2).strip()
        ):
            fence = None
        alert = fence is None and GITHUB_ALERT.match(line)
        if not alert:
            out.append(line)
            continue
        out.append(f"!!! {ADMONITIONS[alert.group(1).upper()]}")
        while i < len(lines) and (quoted := QUOTED.match(lines[i])):
            body = quoted.group(1)
            out.append(f"    {body}" if body else "")
            i += 1
        out.append("")
    return "\n".join(out)


TEMPLATES = os.path.join(os.path.dirname(__file__), "portico_techdocs_templates")


def installed(extension):
    package = extension.split(".")[0] if "." in extension else "markdown"
    return importlib.util.find_spec(package) is not None


class TechDocsCore(BasePlugin):
    def on_config(self, config):
        # Without mkdocs-material the site builds in the theme it names rather than not at all.
        if config["theme"].name != "material" and "material" in get_theme_names():
            config["theme"] = Theme(name="material")
        # TechDocs search indexes a site from its search/search_index.json.
        if "search" not in config["plugins"]:
            search = SearchPlugin()
            search.load_config({})
            config["plugins"]["search"] = search
        # The reader's header shows the site's name and description from this file.
        config["theme"].dirs.append(TEMPLATES)
        config["theme"].static_templates.add("techdocs_metadata.json")
        config["markdown_extensions"].append(TwoSpaceNestedLists())
        for name, settings in EXTENSIONS.items():
            if not installed(name):
                continue
            if name not in config["markdown_extensions"]:
                config["markdown_extensions"].append(name)
            # What a site sets itself wins; the rest is as the real plugin sets it (an emoji index with
            # no generator, since Backstage lets the index's Python tag through but not the generator's).
            defaults = settings() if callable(settings) else settings
            config["mdx_configs"][name] = {**defaults, **config["mdx_configs"].get(name, {})}
        emoji = config["mdx_configs"].get("pymdownx.emoji")
        if emoji is not None:
            icons = emoji.setdefault("options", {}).setdefault("custom_icons", [])
            icons.extend(path for path in material_icons() if path not in icons)
        return config

    def on_page_markdown(self, markdown, **kwargs):
        return github_alerts_as_admonitions(markdown)
