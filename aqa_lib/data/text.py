"""Text for language-guided methods: MLAVL's sport prompt sets (shipped) and per-video text tokens.

Prompt files (``action-label_{RG,FS,LOGO}.csv``, ``id,name``) list, in row order: N "a video of <action>"
prompts, N "a music suitable for <action>" prompts, 12 audio-visual grade prompts and 6 visual grade
prompts; N = 32 (RG), 42 (FS: FS1000 and Fis-V), 63 (LOGO). See ``shared/data/README.md``.
"""

from __future__ import annotations

import pandas as pd

from ..paths import PACKAGE_DATA

PROMPT_SPORTS = {"RG": 32, "FS": 42, "LOGO": 63}
N_AV_GRADES = 12
N_V_GRADES = 6
_VIDEO_PREFIX = "a video of "


def action_vocabulary(sport: str) -> list[str]:
    """The N action names of a sport's prompt set (e.g. ``"leaping"``), in prompt order."""
    if sport not in PROMPT_SPORTS:
        raise ValueError(f"Unknown prompt set {sport!r}; valid: {', '.join(PROMPT_SPORTS)}.")
    frame = pd.read_csv(PACKAGE_DATA / "mlavl_text" / f"action-label_{sport}.csv")
    names = frame["name"].tolist()[: PROMPT_SPORTS[sport]]
    out = []
    for name in names:
        action = name[len(_VIDEO_PREFIX):] if name.startswith(_VIDEO_PREFIX) else name
        out.append(action.removeprefix("a ").removeprefix("an "))
    return out
