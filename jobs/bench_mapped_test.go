package jobs

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// pbMapped returns, for each page of this process's memory map of the
// file at path (bbolt's), whether it is mapped in: /proc/self/pagemap's
// present bit. nil where there is no /proc.
func pbMapped(path string) []bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer maps.Close()
	var start, end uint64
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != abs || f[2] != "00000000" {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, _ = strconv.ParseUint(lo, 16, 64)
		end, _ = strconv.ParseUint(hi, 16, 64)
	}
	if end <= start {
		return nil
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return nil
	}
	defer pm.Close()
	ps := uint64(os.Getpagesize())
	n := (end - start) / ps
	buf := make([]byte, 8*n)
	if _, err := pm.ReadAt(buf, int64(start/ps*8)); err != nil {
		return nil
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[8*i:])&(1<<63) != 0
	}
	return out
}

// pbMappedByBucket says how much of what pbMapped found belongs to each
// bucket of the closed bbolt file at path, by walking its pages: the
// largest first.
func pbMappedByBucket(path string, mapped []bool) string {
	f, err := os.Open(path)
	if err != nil || len(mapped) == 0 {
		return "unknown"
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "unknown"
	}
	ps := os.Getpagesize()
	owner := make([]string, fi.Size()/int64(ps))
	// page reads one page with its overflow, not the whole file: the
	// benchmark's memory is what is being looked at.
	page := func(id uint64) []byte {
		head := make([]byte, ps)
		if _, err := f.ReadAt(head, int64(id)*int64(ps)); err != nil {
			return nil
		}
		if overflow := binary.LittleEndian.Uint32(head[12:]); overflow > 0 {
			full := make([]byte, (int(overflow)+1)*ps)
			if _, err := f.ReadAt(full, int64(id)*int64(ps)); err != nil {
				return nil
			}
			return full
		}
		return head
	}
	var walk func(id uint64, name string)
	walk = func(id uint64, name string) {
		p := page(id)
		if p == nil {
			return
		}
		flags, count, overflow := binary.LittleEndian.Uint16(p[8:]), int(binary.LittleEndian.Uint16(p[10:])), binary.LittleEndian.Uint32(p[12:])
		for i := uint64(0); i <= uint64(overflow) && int(id+i) < len(owner); i++ {
			owner[id+i] = name
		}
		for e := range count {
			el := p[16+16*e:]
			switch flags {
			case 0x01: // branch: pos, ksize, pgid
				walk(binary.LittleEndian.Uint64(el[8:]), name)
			case 0x02: // leaf: flags, pos, ksize, vsize
				if binary.LittleEndian.Uint32(el)&0x01 == 0 {
					continue // a value, not a bucket
				}
				pos, ksize := binary.LittleEndian.Uint32(el[4:]), binary.LittleEndian.Uint32(el[8:])
				kv := el[pos:]
				sub := name + "/" + string(kv[:ksize])
				if root := binary.LittleEndian.Uint64(kv[ksize:]); root != 0 {
					walk(root, strings.TrimPrefix(sub, "/"))
				}
			}
		}
	}
	// The meta page with the later transaction holds the root bucket.
	var root, txid uint64
	for m := range 2 {
		p := page(uint64(m))
		if p == nil {
			return "unknown"
		}
		if t := binary.LittleEndian.Uint64(p[16+48:]); t >= txid {
			txid, root = t, binary.LittleEndian.Uint64(p[16+16:])
		}
	}
	walk(root, "")
	bytes := map[string]int{}
	for i, in := range mapped {
		if !in {
			continue
		}
		name := "(free or unused)"
		if i < len(owner) && owner[i] != "" {
			name = owner[i]
		} else if i < 2 {
			name = "(meta)"
		}
		bytes[name] += ps
	}
	names := make([]string, 0, len(bytes))
	for n := range bytes {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return bytes[b] - bytes[a] })
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf("%s %.1f MiB", n, float64(bytes[n])/(1<<20)))
	}
	return strings.Join(out, ", ")
}
