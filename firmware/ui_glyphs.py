# CGRAM glyphs for the 16x2 character LCD (HD44780: 5x8 dots, 8 rows of 5
# bits each, bit 4 the leftmost dot), indexed by the codes ui_menu.G_* puts
# into a frame: 0 import arrow, 1 export arrow, 2 wrench, 3 heart.
GLYPHS = (
    bytes((0b00100, 0b01110, 0b10101, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000)),  # up: import
    bytes((0b00100, 0b00100, 0b00100, 0b00100, 0b10101, 0b01110, 0b00100, 0b00000)),  # down: export
    bytes((0b01010, 0b01010, 0b01110, 0b00100, 0b00100, 0b01110, 0b01110, 0b00000)),  # wrench
    bytes((0b00000, 0b01010, 0b11111, 0b11111, 0b01110, 0b00100, 0b00000, 0b00000)),  # heart
)
