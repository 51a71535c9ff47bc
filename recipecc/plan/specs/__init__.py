"""Pass specs, one module per backend; ``recipecc.plan.registry`` merges them."""
