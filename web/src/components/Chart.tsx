// An ECharts chart (tree-shaken: line and bar charts, axes, legend, tooltip, zoom, mark
// lines) that
// follows its container's size. Tooltips are drawn on the canvas (richText), so nothing
// needs inline styles the console's Content-Security-Policy refuses. ECharts' aria option
// describes the chart to screen readers from its data.
import { BarChart, LineChart } from 'echarts/charts';
import {
  AriaComponent,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([
  AriaComponent,
  BarChart,
  CanvasRenderer,
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  LineChart,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
]);

export type ChartOption = echarts.EChartsCoreOption;

export function Chart({ option, label }: { option: ChartOption; label: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    if (!ref.current) return undefined;
    const c = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    chart.current = c;
    const observer = new ResizeObserver(() => c.resize());
    observer.observe(ref.current);
    return () => {
      observer.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(
      {
        aria: { enabled: true },
        ...option,
        tooltip: { ...((option.tooltip as object) ?? {}), renderMode: 'richText' },
      },
      true,
    );
  }, [option]);
  return <div ref={ref} className="chart" role="img" aria-label={label} />;
}
