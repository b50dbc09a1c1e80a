# Board-layer drivers: handed their bus and pins, never building them.
