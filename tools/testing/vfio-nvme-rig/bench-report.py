#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench's tables and plots.

usage: bench-report.py OUTDIR LOG...

Reads the "BENCH <figure> key=value ..." lines that guest/bench.sh printed on
the consoles (LOG), and writes OUTDIR/report.md (the tables, printed too) and
one PNG per figure (gnuplot, Debian's gnuplot-nox).  Every figure names the
kernel it ran on and gives min / median / max over its repetitions.  Exits 1
when a log reports a failure (a lost command, a failed migration, a run that
did not finish); timings are never judged.
"""
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict

LINE = re.compile(r'^BENCH (\S+)(.*)$')
KV = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse(path):
    kernel, rows, failed, done = '?', defaultdict(list), [], False
    with open(path, errors='replace') as f:
        for raw in f:
            m = LINE.match(raw.strip().replace('\r', ''))
            if not m:
                continue
            fig, kv = m.group(1), dict((k, v.strip('"')) for k, v in KV.findall(m.group(2)))
            if fig == 'kernel':
                kernel = kv.get('release', '?')
            elif fig == 'failed':
                failed.append(kv.get('cmd', '?'))
            elif fig == 'done':
                done = kv.get('rc') == '0'
            else:
                rows[fig].append({k: num(v) for k, v in kv.items()})
    return kernel, rows, failed, done


def num(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def mmm(vals):
    """min, median, max"""
    return min(vals), statistics.median(vals), max(vals)


def fmt3(vals, f='{:.2f}'):
    lo, med, hi = mmm(vals)
    return f'{f.format(med)} ({f.format(lo)}-{f.format(hi)})'


def fit(xs, ys):
    """least squares y = a + b x: (a, b)"""
    mx, my = statistics.mean(xs), statistics.mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0
    return my - b * mx, b


def table(head, rows):
    out = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    out += ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows]
    return '\n'.join(out)


class Plot:
    """one gnuplot PNG from data blocks"""

    def __init__(self, outdir, name, title, xlabel, ylabel, logx=False):
        self.png = os.path.join(outdir, name + '.png')
        self.dat = os.path.join(outdir, name + '.dat')
        self.head = [f'set terminal pngcairo noenhanced size 900,540 font "sans,10"',
                     f'set output "{self.png}"', f'set title "{title}"',
                     f'set xlabel "{xlabel}"', f'set ylabel "{ylabel}"', 'set grid',
                     'set key top left', 'set yrange [0:*]']
        if logx:
            self.head.append('set logscale x 2')
        self.blocks, self.plots = [], []

    def series(self, label, points, style='linespoints', axis='x1y1'):
        """points: (x, min, median, max)"""
        idx = len(self.blocks)
        self.blocks.append('\n'.join(f'{x} {lo} {med} {hi}' for x, lo, med, hi in points))
        self.plots.append(f'"{self.dat}" index {idx} using 1:3:2:4 with yerrorlines '
                          f'axes {axis} title "{label}"' if style == 'err' else
                          f'"{self.dat}" index {idx} using 1:3 with {style} axes {axis} '
                          f'title "{label}"')

    def write(self, extra=()):
        with open(self.dat, 'w') as f:
            f.write('\n\n\n'.join(self.blocks) + '\n')
        script = '\n'.join(self.head + list(extra)) + '\nplot ' + ', '.join(self.plots) + '\n'
        r = subprocess.run(['gnuplot'], input=script, text=True, capture_output=True)
        if r.returncode:
            print(f'bench-report: gnuplot ({self.png}): {r.stderr.strip()}', file=sys.stderr)
        return os.path.basename(self.png)


def datapath(rows, kernel, outdir):
    by = defaultdict(list)
    for r in rows:
        by[(r['rw'], r['qd'], r['driver'])].append(r)
    points = sorted({(rw, qd) for rw, qd, _ in by})
    out, plot_pts, pooled_pts = [], [], []
    for i, (rw, qd) in enumerate(points):
        ours, plain = by[(rw, qd, 'nvme_vfio_pci')], by[(rw, qd, 'vfio-pci')]
        # the runs alternate: the k-th of one driver with the k-th of the other
        ratios = [a['iops'] / b['iops'] for a, b in zip(ours, plain) if b['iops']]
        if not ratios:
            continue
        pooled = (sum(r['ios'] for r in ours) / sum(r['ms'] for r in ours)) / \
            (sum(r['ios'] for r in plain) / sum(r['ms'] for r in plain))
        mm = {(r.get('bar0_mmap_bytes', 0), r.get('bar0_bytes', 0)) for r in ours + plain}
        out.append([rw, qd, fmt3([r['iops'] for r in ours], '{:.0f}'),
                    fmt3([r['iops'] for r in plain], '{:.0f}'), fmt3(ratios, '{:.3f}'),
                    f'{pooled:.3f}',
                    '{:.0f} / {:.0f}'.format(statistics.median(r['lat_p50_us'] for r in ours),
                                             statistics.median(r['lat_p50_us'] for r in plain)),
                    '{:.0f} / {:.0f}'.format(statistics.median(r['lat_p99_us'] for r in ours),
                                             statistics.median(r['lat_p99_us'] for r in plain)),
                    len(ratios), sum(r['errors'] for r in ours + plain),
                    ', '.join(f'{m >> 10}/{b >> 10}' for m, b in sorted(mm))])
        plot_pts.append((i, *mmm(ratios)))
        pooled_pts.append((i, 0, pooled, 0))
    p = Plot(outdir, 'datapath', f'IOPS nvme_vfio_pci / vfio-pci, 4 KiB random ({kernel}, TCG)',
             'point', 'ratio')
    p.head[-1] = 'set yrange [0.8:1.2]'
    p.series('ratio per pair (median, min-max)', plot_pts, 'err')
    p.series('pooled ratio', pooled_pts, 'points pt 7')
    p.series('1.0', [(i, 1, 1, 1) for i, _ in enumerate(points)], 'lines')
    xt = ', '.join(f'"{rw} QD{qd}" {i}' for i, (rw, qd) in enumerate(points))
    png = p.write([f'set xtics ({xt})', 'set xrange [-0.5:%f]' % (len(points) - 0.5)])
    return ('### 1. Data path: nvme_vfio_pci vs vfio-pci\n\n'
            f'Kernel {kernel}.  One queue pair, random 4 KiB on the shared namespace, 1 s per '
            'run, the drivers alternated at every point (ABBA); IOPS median (min-max); the '
            'ratio nvme_vfio_pci / vfio-pci per adjacent pair of runs, median (min-max), and '
            'pooled (all I/Os of one driver over all its time); latency medians in us '
            '(nvme_vfio_pci / vfio-pci); BAR0 KiB mmapped / KiB, under either driver.\n\n' +
            table(['rw', 'QD', 'nvme_vfio_pci IOPS', 'vfio-pci IOPS', 'ratio per pair',
                   'pooled ratio', 'p50 us', 'p99 us', 'pairs', 'errors', 'BAR0 mmap'], out) + f'\n\n![data path]({png})\n')


def downtime(rows, kernel, outdir):
    by = defaultdict(list)
    for r in rows:
        by[(r['qp'], r['outstanding'])].append(r)
    out = []
    for (qp, o), rs in sorted(by.items()):
        cmds = sorted({r['admin_cmds'] for r in rs})
        out.append([qp, o, fmt3([r['downtime_ms'] for r in rs]),
                    fmt3([r['suspend_ms'] for r in rs]), fmt3([r['save_ms'] for r in rs]),
                    fmt3([r['load_ms'] for r in rs]), '{:.0f}'.format(statistics.median(r['stop_copy_bytes'] for r in rs)),
                    '{:.0f}'.format(statistics.median(r['stream_bytes'] for r in rs)),
                    '/'.join(str(c) for c in cmds),
                    ' / '.join('{:.0f}'.format(statistics.median(r.get(k, 0) for r in rs))
                               for k in ('pf_suspend_us', 'pf_get_us', 'pf_set_us',
                                         'pf_resume_us')), len(rs)])
    text = ('### 2. Downtime and its parts\n\n'
            f'Kernel {kernel}.  One guest migrated back and forth between VF 1 of PF 0 and VF 1 '
            'of PF 1 (each migration one row entry); suspend = PRE_COPY_P2P, save = STOP_COPY '
            'and reading the state, load = writing it and RUNNING on the destination; '
            'PF admin commands counted from nvme:nvme_setup_cmd (qid 0) in the downtime, and '
            'the time of each in the PF (nvme_vfio_pci:nvmevf_lm_cmd, medians in us: Suspend / '
            'Get / Set Controller State / Resume).  ms as median (min-max).\n\n' +
            table(['queue pairs', 'outstanding', 'downtime ms', 'suspend ms', 'save ms',
                   'load ms', 'STOP_COPY bytes', 'stream bytes', 'PF admin cmds',
                   'in the PF us', 'runs'], out))
    for name, key, fixed, label in (('downtime-qp', 'qp', ('outstanding', 0), 'I/O queue pairs'),
                                     ('downtime-outstanding', 'outstanding', ('qp', 1),
                                      'commands outstanding at the switch')):
        sel = {k: v for k, v in by.items() if (k[1] if key == 'qp' else k[0]) == fixed[1]}
        xs = sorted(k[0] if key == 'qp' else k[1] for k in sel)
        if not xs:
            continue
        get = (lambda x: sel[(x, 0)]) if key == 'qp' else (lambda x: sel[(1, x)])
        p = Plot(outdir, name, f'Downtime vs {label} ({kernel}, TCG)', label, 'ms')
        for part, lab in (('downtime_ms', 'downtime'), ('suspend_ms', 'suspend'),
                          ('save_ms', 'save'), ('load_ms', 'load')):
            p.series(lab, [(x, *mmm([r[part] for r in get(x)])) for x in xs],
                     'err' if part == 'downtime_ms' else 'linespoints')
        png = p.write()
        a, b = fit(xs, [statistics.median(r['downtime_ms'] for r in get(x)) for x in xs])
        text += (f'\n\nDowntime vs {label}: least squares on the medians {a:.2f} ms '
                 f'{b:+.3f} ms per {"queue pair" if key == "qp" else "command"}.\n\n'
                 f'![{name}]({png})')
    return text + '\n'


def concurrent(rows, vfrows, kernel, outdir):
    by, vf = defaultdict(list), defaultdict(list)
    for r in rows:
        by[r['n']].append(r)
    for r in vfrows:
        vf[r['n']].append(r['downtime_ms'])
    out, ns, meds = [], sorted(by), []
    for n in ns:
        last = [r['last_running_ms'] for r in by[n] if r['last_running_ms']]
        if not last:
            continue
        busy = [max(r.get('src_pf_busy_ms', 0), r.get('dst_pf_busy_ms', 0)) /
                r['last_running_ms'] for r in by[n] if r['last_running_ms']]
        out.append([n, fmt3(last), fmt3(vf[n]) if vf[n] else '-',
                    sum(r['failures'] for r in by[n]), sum(r['start_failures'] for r in by[n]),
                    '{:.0f} %'.format(100 * statistics.median(busy)),
                    '{:.0f} / {:.0f}'.format(statistics.median(r.get('src_pf_cmds', 0) for r in by[n]),
                                             statistics.median(r.get('dst_pf_cmds', 0) for r in by[n])),
                    len(by[n]), len(vf[n])])
        meds.append((n, statistics.median(last)))
    a, b = fit([n for n, _ in meds], [m for _, m in meds]) if len(meds) > 1 else (0, 0)
    p = Plot(outdir, 'concurrent', f'N VFs migrated at once ({kernel}, TCG)', 'N', 'ms')
    p.series('time to the last RUNNING', [(n, *mmm([r['last_running_ms'] for r in by[n]]))
                                          for n, _ in meds], 'err')
    p.series('per-VF downtime', [(n, *mmm(vf[n])) for n, _ in meds if vf[n]], 'err')
    p.series(f'fit {a:.1f} {b:+.1f} N', [(n, 0, a + b * n, 0) for n, _ in meds], 'lines')
    png = p.write()
    return ('### 3. Concurrency: N VFs migrated at once\n\n'
            f'Kernel {kernel}.  VFs 1..N of PF 0, one guest process each, released at once '
            'and migrated to VFs 1..N of PF 1 (4 writes outstanding each).  ms as median '
            '(min-max) over the repetitions; per-VF downtime over every VF of every '
            'repetition.  Start failures (a guest that did not start) are counted apart from '
            'failed migrations.  PF queue busy: the share of the time to the last RUNNING in '
            'which the busier PF had a command of the driver outstanding (nvmevf_lm_cmd '
            'intervals, their union), median; PF commands: the driver\'s commands on the '
            'source / destination PF in that time.\n\n' +
            table(['N', 'time to last RUNNING ms', 'per-VF downtime ms', 'failed migrations',
                   'start failures', 'PF queue busy', 'PF commands', 'reps', 'VF migrations'],
                  out) +
            f'\n\nTime to the last RUNNING, least squares on the medians: {a:.2f} ms '
            f'{b:+.2f} ms x N.\n\n![concurrency]({png})\n')


def dirty(rows, kernel, outdir):
    by = defaultdict(list)
    for r in rows:
        by[(r['range_mib'], r['dirty_pages'])].append(r)
    out = [[rg, d, fmt3([r['report_ms'] for r in rs], '{:.3f}'),
            '/'.join(str(c) for c in sorted({r['track_receive_cmds'] for r in rs})),
            '/'.join(str(c) for c in sorted({r['reported_pages'] for r in rs})), len(rs)]
           for (rg, d), rs in sorted(by.items())]
    text = ('### 4. Dirty tracking: DMA_LOGGING_REPORT\n\n'
            f'Kernel {kernel} (KASAN and lockdep on: absolute times are inflated).  One report '
            'of the whole tracked range after the device wrote the dirty pages; Track '
            'Receive commands counted from the nvmevf_lm_cmd trace event.\n\n' +
            table(['tracked MiB', 'dirty pages', 'report ms', 'Track Receive cmds',
                   'pages reported', 'runs'], out) + '\n')
    for name, key, fixed, label, logx in (('dirty-range', 0, 16, 'tracked MiB', True),
                                          ('dirty-pages', 1, 1024, 'dirty pages', False)):
        sel = sorted(k for k in by if k[1 - key] == fixed)
        if not sel:
            continue
        p = Plot(outdir, name, f'Report cost vs {label} ({kernel}, TCG)', label, 'ms', logx)
        p.head.append('set y2label "Track Receive commands"')
        p.head.append('set y2tics')
        p.head.append('set y2range [0:*]')
        p.series('report ms', [(k[key], *mmm([r['report_ms'] for r in by[k]])) for k in sel], 'err')
        p.series('Track Receive commands', [(k[key], 0, statistics.median(
            r['track_receive_cmds'] for r in by[k]), 0) for k in sel], 'linespoints', 'x1y2')
        text += f'\n![{name}]({p.write()})\n'
    return text


def qemu(rows, kernel):
    out = [[fmt3([r['total_ms'] for r in rows], '{:.0f}'),
            fmt3([r['downtime_ms'] for r in rows], '{:.0f}'),
            statistics.median(r['vf_state_bytes'] for r in rows), len(rows)]]
    return ('### 5. QEMU-driven migration\n\n'
            f'Kernel {kernel}.  qemu_migration_test: QEMU 10.0 in the rig migrating a nested '
            'guest that owns the VF, with I/O in flight; QEMU\'s own total-time and downtime '
            '(query-migrate), ms as median (min-max).\n\n' +
            table(['total ms', 'downtime ms', 'VF state bytes', 'runs'], out) + '\n')


def main():
    outdir, logs = sys.argv[1], sys.argv[2:]
    parts, bad = ['# make bench (QEMU TCG: compare ratios and shapes, not absolute times)\n'], []
    for log in logs:
        kernel, rows, failed, done = parse(log)
        if not done:
            bad.append(f'{log}: did not finish cleanly (see its last lines)')
        bad += [f'{log}: failed: {c}' for c in failed]
        if rows.get('datapath'):
            parts.append(datapath(rows['datapath'], kernel, outdir))
        if rows.get('downtime'):
            parts.append(downtime(rows['downtime'], kernel, outdir))
        if rows.get('concurrent'):
            parts.append(concurrent(rows['concurrent'], rows.get('concurrent_vf', []), kernel,
                                    outdir))
        if rows.get('qemu'):
            parts.append(qemu(rows['qemu'], kernel))
        if rows.get('dirty'):
            parts.append(dirty(rows['dirty'], kernel, outdir))
    if bad:
        parts.append('### Failures\n\n' + '\n'.join(f'- {b}' for b in bad) + '\n')
    report = '\n'.join(parts)
    with open(os.path.join(outdir, 'report.md'), 'w') as f:
        f.write(report)
    print(report)
    print(f'bench-report: {outdir}/report.md and its plots')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
