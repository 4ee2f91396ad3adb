"""The grading tests the plugin runs against a submission. Each test states one property and calls one check.

Rubric items name these tests as `module::function`. Modules ending in `_reference` need the reference solution
(instructor only); the others need only finite differences or fixed values and can ship in the student kit.
"""
