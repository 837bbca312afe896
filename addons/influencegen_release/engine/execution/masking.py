"""Replace secret values by ``***`` in every line that is stored or shown."""

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words and numbers


class Masker:
    def __init__(self, secrets=()):
        values = {str(s) for s in secrets if s and len(str(s)) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._values = sorted(values, key=len, reverse=True)
        self._bytes = [v.encode() for v in self._values]

    def __bool__(self):
        return bool(self._values)

    def mask(self, text):
        for value in self._values:
            text = text.replace(value, MASK)
        return text

    def mask_bytes(self, data):
        for value in self._bytes:
            data = data.replace(value, MASK.encode())
        return data
