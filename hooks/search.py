"""Build hook: the search index without the code blocks' text.

Material's search sends its whole index to every page's first visit. Code blocks were over half of it; a
reader searches for what a page teaches, and every identifier the prose names (`zero_grad`,
`CrossEntropyLoss`) is still indexed from the prose's inline code, split by mkdocs.yml's separator.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

CODE_BLOCK = re.compile(r"<pre\b.*?</pre>", re.DOTALL)


def on_post_build(config):
    index = Path(config.site_dir) / "search" / "search_index.json"
    if index.exists():  # the search plugin wrote it in its own on_post_build, which runs before the hooks
        data = json.loads(index.read_text(encoding="utf-8"))
        for doc in data["docs"]:
            doc["text"] = CODE_BLOCK.sub(" ", doc["text"])
        index.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
