"""Dataset passes: materialise a recipe's dataset once, as arrays, so every later pass reads the same split."""
