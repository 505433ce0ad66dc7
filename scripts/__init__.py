"""Tools run by hand (`python -m scripts.<name>`), each documented in its module.

Shipped weights:  train_weights, calibrate_weights, ship_predictions, ship_neighbours,
                  ship_insights (the three share shipping: their command line), ood_thresholds,
                  results_table (docs/models.md's table)
Studies:          stroke_sizes, finetune_settings, synthetic_writer, real_inputs (old
                  default against new on real inputs)
The house:        import_graph, screenshots (docs/screenshots/), favicon
CI and tests:     test.sh (the README's test command)
"""
