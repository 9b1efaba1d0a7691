/** Types of the parser package (it ships none): the text in, metric families out. */
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
