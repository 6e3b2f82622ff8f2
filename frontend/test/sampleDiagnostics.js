// Diagnostics shared by the filter and chart-marker tests: a repeat at one step, every severity.
// (Not a test file: no `.test.js`.)

export const d = (check, step, severity) => ({ check, step, severity });

export const sample = [
  d("input_not_normalized", 0, "warning"),
  d("nan_loss", 312, "error"),
  d("nan_loss", 312, "error"),
  d("overfitting", 400, "warning"),
  d("tip", 500, "info"),
];
