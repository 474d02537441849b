"""The baseline of the registry benchmark: a bare FastAPI endpoint returning a constant,
served by uvicorn with the settings ``meshkit-platform registry serve`` uses.

    python -m bench._registry_bare <port> [<workers>]
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
def bare() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    uvicorn.run(
        "bench._registry_bare:app" if workers > 1 else app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        workers=workers,
    )
