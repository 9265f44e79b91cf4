"""What sites name of mkdocs-material's Python package, which Debian's mkdocs-material (the theme alone) lacks."""
