"""The `monorepo` MkDocs plugin's includes, which the techdocs-core image has and only PyPI brings: one
TechDocs site from the docs of many folders of a repository.

A nav entry `Payments: '!include ./payments/mkdocs.yml'` puts that folder's site (its docs and its nav, or
all its pages when it has none) under `<its site_name>/`; an entry `'*include ./services/*/mkdocs.yml'` does
it for every match, in order of path, each titled by its site name. Included sites may include others. Every
included file must be inside the site's own directory.
"""

import glob
import os
import re
import shutil
import tempfile

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.utils import yaml_load

INCLUDE = re.compile(r"^(!|\*)include\s+(.+?)\s*$")


class Monorepo(BasePlugin):
    def on_config(self, config):
        self.root = os.path.dirname(os.path.realpath(config.config_file_path))
        self.root_docs = os.path.relpath(config["docs_dir"], self.root)
        # Each merged page that came from an included site: its path from the site's directory.
        self.sources = {}
        if not config["nav"]:
            return config
        self.merged = tempfile.mkdtemp(prefix="techdocs-monorepo-")
        shutil.copytree(config["docs_dir"], self.merged, dirs_exist_ok=True)
        config["nav"] = self._nav(config["nav"], self.root, "")
        config["docs_dir"] = self.merged
        return config

    def on_page_context(self, context, page, config, nav):
        # The edit link of an included page points at its file, not at the root's docs folder.
        source = self.sources.get(page.file.src_uri)
        if source and page.edit_url:
            merged = f"{self.root_docs}/{page.file.src_uri}"
            page.edit_url = (
                page.edit_url[: -len(merged)] + source if page.edit_url.endswith(merged) else None
            )
        return context

    def on_post_build(self, config):
        if getattr(self, "merged", None):
            shutil.rmtree(self.merged, ignore_errors=True)

    def _nav(self, entries, site_dir, prefix):
        resolved = []
        for entry in entries:
            if isinstance(entry, dict):
                ((title, value),) = entry.items()
                resolved.append({title: self._value(value, site_dir, prefix)})
                continue
            include = INCLUDE.match(entry) if isinstance(entry, str) else None
            if include and include.group(1) == "*":
                for match in sorted(glob.glob(os.path.join(site_dir, include.group(2)))):
                    name, nav = self._include(match, prefix)
                    resolved.append({name: nav})
            else:
                resolved.append(self._value(entry, site_dir, prefix))
        return resolved

    def _value(self, value, site_dir, prefix):
        if isinstance(value, list):
            return self._nav(value, site_dir, prefix)
        include = INCLUDE.match(value) if isinstance(value, str) else None
        if include and include.group(1) == "!":
            return self._include(os.path.join(site_dir, include.group(2)), prefix)[1]
        if isinstance(value, str) and prefix and "://" not in value:
            return f"{prefix}{value}"
        return value

    def _include(self, config_file, prefix):
        """Copies an included site's docs into the merged docs; returns its name and nav."""
        config_file = self._inside(config_file)
        if not os.path.isfile(config_file):
            raise PluginError(f"monorepo: {self._shown(config_file)} does not exist")
        with open(config_file, encoding="utf-8") as file:
            site = yaml_load(file) or {}
        name = site.get("site_name")
        if not isinstance(name, str) or not name.strip() or "/" in name or name.strip(".") == "":
            raise PluginError(
                f"monorepo: {self._shown(config_file)} needs a site_name, which names its folder in the site"
            )
        site_dir = os.path.dirname(config_file)
        docs = self._inside(os.path.join(site_dir, site.get("docs_dir", "docs")))
        if not os.path.isdir(docs):
            raise PluginError(f"monorepo: {self._shown(config_file)} has no docs folder {self._shown(docs)}")
        target = os.path.join(self.merged, prefix, name)
        if os.path.exists(target):
            raise PluginError(f"monorepo: two included sites are named {name}")
        shutil.copytree(docs, target)
        for folder, _, files in os.walk(docs):
            for file in files:
                path = os.path.relpath(os.path.join(folder, file), docs).replace(os.sep, "/")
                self.sources[f"{prefix}{name}/{path}"] = os.path.relpath(
                    os.path.join(folder, file), self.root
                ).replace(os.sep, "/")
        inner = f"{prefix}{name}/"
        if site.get("nav"):
            return name, self._nav(site["nav"], site_dir, inner)
        # As MkDocs orders a folder's pages: its index first.
        pages = sorted(
            (path[len(inner) :] for path in self.sources if path.startswith(inner) and path.endswith(".md")),
            key=lambda page: (page not in ("index.md", "README.md"), page),
        )
        return name, [f"{inner}{page}" for page in pages]

    def _inside(self, path):
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.root]) != self.root:
            raise PluginError(f"monorepo: {self._shown(path)} is outside the site's directory")
        return real

    def _shown(self, path):
        return os.path.relpath(path, self.root)
