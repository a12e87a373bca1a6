import { describe, expect, it } from 'vitest';
import { barChart, lineChart, scatterChart } from './svg-charts.ts';

const count = (svg: string, tag: string) => svg.split(`<${tag}`).length - 1;

describe('report charts', () => {
  it('draw one polyline per series of several points, a marker per point, and escape names', () => {
    const svg = lineChart({
      title: 'Accuracy <vs> time',
      xLabel: 's',
      yLabel: '%',
      series: [
        {
          name: 'CoOpt & co',
          points: [
            [1, 50],
            [2, 60],
            [3, 70],
          ],
        },
        { name: 'random', points: [[0, 20]] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(count(svg, 'polyline')).toBe(1);
    expect(count(svg, 'circle')).toBe(4);
    expect(svg).toContain('Accuracy &lt;vs&gt; time');
    expect(svg).toContain('CoOpt &amp; co');
  });

  it('place scatter labels and bar values', () => {
    const s = scatterChart({
      title: 't',
      xLabel: 'V',
      yLabel: 'acc',
      points: [
        { x: -1.6, y: 90, label: 'a' },
        { x: -0.1, y: 80, label: 'b' },
      ],
    });
    expect(count(s, 'circle')).toBe(2);
    const b = barChart({
      title: 't',
      yLabel: '%',
      bars: [
        { label: 'x', value: 80, error: 1 },
        { label: 'y', value: 70 },
      ],
    });
    expect(count(b, 'rect')).toBe(3); // background + 2 bars
    expect(b).toContain('>80<');
  });
});
