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

// `onZoom` hears the x range the user zoomed to (the first dataZoom's values), once the
// zooming pauses.
export function Chart({
  option,
  label,
  onZoom,
}: {
  option: ChartOption;
  label: string;
  onZoom?: (from: number, to: number) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const zoomed = useRef(onZoom);
  zoomed.current = onZoom;
  useEffect(() => {
    if (!ref.current) return undefined;
    const c = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    chart.current = c;
    let timer: ReturnType<typeof setTimeout> | undefined;
    c.on('datazoom', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const z = (c.getOption() as { dataZoom?: { startValue?: number; endValue?: number }[] }).dataZoom?.[0];
        if (z && typeof z.startValue === 'number' && typeof z.endValue === 'number') {
          zoomed.current?.(z.startValue, z.endValue);
        }
      }, 400);
    });
    const observer = new ResizeObserver(() => c.resize());
    observer.observe(ref.current);
    return () => {
      clearTimeout(timer);
      observer.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(
      {
        // ECharts writes its description over the container's aria-label: it starts with
        // ours, so the chart keeps its name.
        aria: {
          enabled: true,
          label: { general: { withTitle: `${label}. {title}.`, withoutTitle: `${label}.` } },
        },
        ...option,
        tooltip: { ...((option.tooltip as object) ?? {}), renderMode: 'richText' },
      },
      true,
    );
  }, [option, label]);
  return <div ref={ref} className="chart" role="img" aria-label={label} />;
}
