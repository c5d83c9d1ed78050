/* SPDX-License-Identifier: GPL-2.0 */
/* Network device traffic (socktop -d): packets and bytes per interface. */
#ifndef SOCKTAP_DEVICES_BPF_H
#define SOCKTAP_DEVICES_BPF_H

static __always_inline int on_dev(struct sk_buff *skb, bool tx)
{
	struct dev_value zero = {}, *v;
	u32 ifindex = BPF_CORE_READ(skb, dev, ifindex);
	u64 len = BPF_CORE_READ(skb, len);

	v = map_slot(&devs, &ifindex, &zero);
	if (!v)
		return 0;
	if (tx) {
		v->tx_packets += 1;
		v->tx_bytes += len;
	} else {
		v->rx_packets += 1;
		v->rx_bytes += len;
	}
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(net_dev_queue, struct sk_buff *skb)
{
	return on_dev(skb, true);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(netif_receive_skb, struct sk_buff *skb)
{
	return on_dev(skb, false);
}

#endif
