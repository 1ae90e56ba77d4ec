"""Operations: health, metrics, logs, integrity checks, backup, restore and database moves."""
