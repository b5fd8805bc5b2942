// Package chart checks the Helm chart charts/irisha against dist/install.yaml.
package chart
