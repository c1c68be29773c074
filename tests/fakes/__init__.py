"""Small loopback stand-ins for what tests must not reach: platform Web APIs and the answer callable."""
