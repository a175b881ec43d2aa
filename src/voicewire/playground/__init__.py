"""The browser playground: static files that `voicewire serve` sends at `/` and `/static/...`.

They are package data, loaded by the page straight from the server: no build step and no CDN, so the page
works offline and is exactly the version of the server it talks to.
"""
