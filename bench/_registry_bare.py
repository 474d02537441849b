"""The baseline of the registry benchmark: a bare FastAPI endpoint returning a constant,
served by uvicorn with the settings ``meshkit-platform registry serve`` uses.

    python -m bench._registry_bare <port>
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
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
